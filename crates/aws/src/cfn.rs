//! The CloudFormation side of the boundary: stacks, change sets, events. Returns plain data
//! (`stack::Change`, `stack::Event`, [`StackInfo`]); no SDK type leaves this module. A template
//! past CloudFormation's inline limit is staged in the bootstrap stack's templates bucket and
//! named by URL.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter, TemplateStage};
use aws_sdk_cloudformation::Client;

use crate as aws;
use crate::{At, Service};
use shipit_core::error::{Error, Result};
use shipit_core::settings::Connection;
use shipit_core::stack::{
    template_key, template_url, Change, ChangeSet, Event, StackInfo, StackResource,
    BOOTSTRAP_STACK, INLINE_TEMPLATE_MAX, TEMPLATES_BUCKET_OUTPUT,
};
use shipit_engine::ports::{Call, StackService};

#[derive(Clone)]
pub struct Cfn {
    client: Client,
    /// Where a template too large to send inline is staged (the bootstrap stack's bucket).
    s3: aws_sdk_s3::Client,
    s3_at: At,
    region: String,
    at: At,
}

/// A refusal while staging a template names the two statements it takes: a role made from an
/// older copy of infrastructure-role.json lacks them.
fn staging(e: Error) -> Error {
    match e {
        Error::Auth { message, .. } => Error::Auth {
            message: format!("staging the stack's template was refused: {message}"),
            hint: "a stack change stages its template with the infrastructure role's FindTheTemplatesBucket and StageThisStacksLargeTemplates statements (stack/iam/infrastructure-role.json): a role made from an older copy lacks them; update its policy".into(),
        },
        other => other,
    }
}

impl Cfn {
    pub fn new(sdk: &SdkConfig, conn: &Connection) -> Cfn {
        let mut builder = aws_sdk_cloudformation::config::Builder::from(sdk);
        if let Some(endpoint) = &conn.endpoints.cloudformation {
            builder = builder.endpoint_url(endpoint);
        }
        Cfn {
            client: Client::from_conf(builder.build()),
            s3: crate::s3::client_with(sdk, conn, None),
            s3_at: At::new(Service::S3, conn.endpoints.s3.as_deref(), sdk),
            region: sdk
                .region()
                .map(|r| r.as_ref().to_string())
                .unwrap_or_default(),
            at: At::new(
                Service::CloudFormation,
                conn.endpoints.cloudformation.as_deref(),
                sdk,
            ),
        }
    }

    /// The stack, or None when it does not exist.
    pub async fn describe(&self, name: &str) -> Result<Option<StackInfo>> {
        let res = self.client.describe_stacks().stack_name(name).send().await;
        let out = match res {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .and_then(|s| s.meta().message())
                    .is_some_and(|m| m.contains("does not exist")) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(aws::error(&self.at, &format!("describe stack {name}"), e)),
        };
        let Some(s) = out.stacks().first() else {
            return Ok(None);
        };
        Ok(Some(StackInfo {
            id: s.stack_id().unwrap_or_default().to_string(),
            status: s
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: s.stack_status_reason().map(str::to_owned),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| {
                    Some((
                        o.output_key()?.to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_key()?.to_string(),
                        p.parameter_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            termination_protection: s.enable_termination_protection().unwrap_or(false),
        }))
    }

    /// The template the stack was last deployed with, as written.
    pub async fn template(&self, name: &str) -> Result<String> {
        let out = self
            .client
            .get_template()
            .stack_name(name)
            .template_stage(TemplateStage::Original)
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("get the template of stack {name}"), e))?;
        Ok(out.template_body().unwrap_or_default().to_string())
    }

    /// `body` staged in the bootstrap stack's templates bucket; its `TemplateURL`.
    async fn stage_template(&self, stack: &str, body: &str) -> Result<String> {
        let refused = |why: String| {
            Error::Refused {
            message: format!(
                "the template of stack {stack} is {} bytes: CloudFormation takes at most {INLINE_TEMPLATE_MAX} inline and reads a larger one from S3, {why}",
                body.len()
            ),
            hint: format!("run `shipit bootstrap` once in this account and region (an administrator's credentials): its stack {BOOTSTRAP_STACK} keeps the templates bucket"),
        }
        };
        let bootstrap = self.describe(BOOTSTRAP_STACK).await.map_err(staging)?;
        let Some(bucket) = bootstrap
            .as_ref()
            .and_then(|b| b.outputs.get(TEMPLATES_BUCKET_OUTPUT))
        else {
            return Err(refused(match bootstrap {
                None => "and this account and region has no bootstrap stack".into(),
                Some(b) => format!(
                    "and stack {BOOTSTRAP_STACK} ({}) has no {TEMPLATES_BUCKET_OUTPUT} output: an older shipit made it, or it did not finish",
                    b.status
                ),
            }));
        };
        let key = template_key(stack, body);
        self.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/x-yaml")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| {
                staging(aws::error(
                    &self.s3_at,
                    &format!("stage the template of stack {stack} as s3://{bucket}/{key}"),
                    e,
                ))
            })?;
        Ok(template_url(bucket, &self.region, &key))
    }

    pub async fn create_change_set(
        &self,
        stack: &str,
        change_set: &str,
        create: bool,
        body: &str,
        parameters: &BTreeMap<String, String>,
        role_arn: Option<&str>,
    ) -> Result<()> {
        let params = parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let (inline, url) = if body.len() <= INLINE_TEMPLATE_MAX {
            (Some(body.to_string()), None)
        } else {
            (None, Some(self.stage_template(stack, body).await?))
        };
        self.client
            .create_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .change_set_type(if create {
                ChangeSetType::Create
            } else {
                ChangeSetType::Update
            })
            .set_template_body(inline)
            .set_template_url(url)
            .set_parameters(Some(params))
            .capabilities(Capability::CapabilityIam)
            .capabilities(Capability::CapabilityNamedIam)
            .description("created by shipit")
            .set_role_arn(role_arn.map(str::to_owned))
            .send()
            .await
            .map_err(|e| {
                aws::error(
                    &self.at,
                    &format!("create a change set for stack {stack}"),
                    e,
                )
            })?;
        Ok(())
    }

    /// The change set with every change (paginated).
    pub async fn describe_change_set(&self, stack: &str, change_set: &str) -> Result<ChangeSet> {
        let mut token: Option<String> = None;
        let mut changes = Vec::new();
        let (mut status, mut reason): (String, String);
        loop {
            let out = self
                .client
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(change_set)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    aws::error(&self.at, &format!("describe change set {change_set}"), e)
                })?;
            status = out
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            reason = out.status_reason().unwrap_or_default().to_string();
            for c in out.changes() {
                if let Some(rc) = c.resource_change() {
                    changes.push(Change {
                        logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
                        kind: rc.resource_type().unwrap_or_default().to_string(),
                        action: rc
                            .action()
                            .map(|a| a.as_str().to_string())
                            .unwrap_or_default(),
                        replacement: rc.replacement().map(|r| r.as_str().to_string()),
                    });
                }
            }
            match out.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        Ok(ChangeSet {
            status,
            reason,
            changes,
        })
    }

    pub async fn execute_change_set(&self, stack: &str, change_set: &str) -> Result<()> {
        self.client
            .execute_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("execute change set {change_set}"), e))?;
        Ok(())
    }

    pub async fn delete_change_set(&self, stack: &str, change_set: &str) -> Result<()> {
        self.client
            .delete_change_set()
            .stack_name(stack)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("delete change set {change_set}"), e))?;
        Ok(())
    }

    /// Events, newest first as CloudFormation returns them (first page only: waiting polls often).
    pub async fn events(&self, stack: &str) -> Result<Vec<Event>> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("read events of stack {stack}"), e))?;
        Ok(out
            .stack_events()
            .iter()
            .map(|e| Event {
                timestamp: e.timestamp().map(|t| t.to_string()).unwrap_or_default(),
                logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
                kind: e.resource_type().unwrap_or_default().to_string(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: e.resource_status_reason().map(str::to_owned),
            })
            .collect())
    }

    pub async fn set_termination_protection(&self, stack: &str, on: bool) -> Result<()> {
        self.client
            .update_termination_protection()
            .stack_name(stack)
            .enable_termination_protection(on)
            .send()
            .await
            .map_err(|e| {
                aws::error(
                    &self.at,
                    &format!("set termination protection of stack {stack}"),
                    e,
                )
            })?;
        Ok(())
    }

    pub async fn delete_stack(&self, stack: &str, role_arn: Option<&str>) -> Result<()> {
        self.client
            .delete_stack()
            .stack_name(stack)
            .set_role_arn(role_arn.map(str::to_owned))
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("delete stack {stack}"), e))?;
        Ok(())
    }

    pub async fn resources(&self, stack: &str) -> Result<Vec<StackResource>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_stack_resources()
                .stack_name(stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    aws::error(&self.at, &format!("list resources of stack {stack}"), e)
                })?;
            // A resource already deleted (a half-done delete left the stack DELETE_FAILED) is
            // gone: nothing is left to empty, protect or retain.
            let live = page
                .stack_resource_summaries()
                .iter()
                .filter(|r| r.resource_status().map(|s| s.as_str()) != Some("DELETE_COMPLETE"));
            for r in live {
                out.push(StackResource {
                    logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                    physical_id: r.physical_resource_id().unwrap_or_default().to_string(),
                    kind: r.resource_type().unwrap_or_default().to_string(),
                });
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        Ok(out)
    }
}

impl StackService for Cfn {
    fn describe<'a>(&'a self, name: &'a str) -> Call<'a, Option<StackInfo>> {
        Box::pin(Cfn::describe(self, name))
    }
    fn template<'a>(&'a self, name: &'a str) -> Call<'a, String> {
        Box::pin(Cfn::template(self, name))
    }
    fn create_change_set<'a>(
        &'a self,
        stack: &'a str,
        change_set: &'a str,
        create: bool,
        body: &'a str,
        parameters: &'a BTreeMap<String, String>,
        role_arn: Option<&'a str>,
    ) -> Call<'a, ()> {
        Box::pin(Cfn::create_change_set(
            self, stack, change_set, create, body, parameters, role_arn,
        ))
    }
    fn describe_change_set<'a>(
        &'a self,
        stack: &'a str,
        change_set: &'a str,
    ) -> Call<'a, ChangeSet> {
        Box::pin(Cfn::describe_change_set(self, stack, change_set))
    }
    fn execute_change_set<'a>(&'a self, stack: &'a str, change_set: &'a str) -> Call<'a, ()> {
        Box::pin(Cfn::execute_change_set(self, stack, change_set))
    }
    fn delete_change_set<'a>(&'a self, stack: &'a str, change_set: &'a str) -> Call<'a, ()> {
        Box::pin(Cfn::delete_change_set(self, stack, change_set))
    }
    fn events<'a>(&'a self, stack: &'a str) -> Call<'a, Vec<Event>> {
        Box::pin(Cfn::events(self, stack))
    }
    fn set_termination_protection<'a>(&'a self, stack: &'a str, on: bool) -> Call<'a, ()> {
        Box::pin(Cfn::set_termination_protection(self, stack, on))
    }
    fn delete_stack<'a>(&'a self, stack: &'a str, role_arn: Option<&'a str>) -> Call<'a, ()> {
        Box::pin(Cfn::delete_stack(self, stack, role_arn))
    }
    fn resources<'a>(&'a self, stack: &'a str) -> Call<'a, Vec<StackResource>> {
        Box::pin(Cfn::resources(self, stack))
    }
}
