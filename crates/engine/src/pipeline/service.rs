//! The API in containers, after the stack: which task definition revision and image the
//! service runs (what a release records), that revision checked through the API's public URL
//! once ECS and CloudFormation call the service stable, and an image put back (a failed check,
//! or `shipit rollback`): the stack's own template and parameters with `ContainerImage`
//! changed, so ECS runs that image again, as a new revision, through the same rolling,
//! health-checked deployment.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::pipeline::api::ApiCheck;
use crate::pipeline::provision::{self, Ensured};
use crate::ports::{Reporter, StackService};
use shipit_core::container::{IMAGE_PARAMETER, TASK_PARAMETERS};
use shipit_core::error::{Error, Result};
use shipit_core::release::ApiVersion;
use shipit_core::settings::StackSettings;
use shipit_core::stack::StackInfo;
use shipit_core::template::Template;

/// The stack outputs naming the service and the revision it runs.
pub const SERVICE_OUTPUT: &str = "ServiceName";
pub const TASK_DEFINITION_OUTPUT: &str = "TaskDefinitionArn";

/// How often the API is asked while a new revision settles behind it.
const POLL: Duration = Duration::from_secs(2);

/// What the stack's service runs: its name, the revision as `family:revision`, and the image;
/// None for a stack without containers.
pub fn served(
    outputs: &BTreeMap<String, String>,
    parameters: &BTreeMap<String, String>,
) -> Option<ApiVersion> {
    let service = outputs.get(SERVICE_OUTPUT)?;
    let revision = outputs.get(TASK_DEFINITION_OUTPUT)?;
    let image = parameters.get(IMAGE_PARAMETER).filter(|i| !i.is_empty())?;
    Some(ApiVersion {
        function: service.rsplit('/').next().unwrap_or(service).to_string(),
        version: revision.rsplit('/').next().unwrap_or(revision).to_string(),
        package: None,
        image: Some(image.clone()),
        parameters: parameters
            .get(shipit_core::container::VERSIONS_PARAMETER)
            .filter(|v| !v.is_empty())
            .cloned(),
    })
}

/// What a deploy does to the service's image, for `plan`: what runs now (None before the
/// first), the image the deploy names, and whether it rolls a new revision out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImagePlan {
    pub running: Option<ApiVersion>,
    pub image: String,
    pub rollout: bool,
}

/// The image plan of a deploy with `coded` (the stack settings with the API's parameters) to
/// the stack as `info` describes it; None when the deploy runs no containers.
pub fn plan_image(info: Option<&StackInfo>, coded: &StackSettings) -> Option<ImagePlan> {
    let image = coded
        .parameters
        .get(IMAGE_PARAMETER)
        .filter(|i| !i.is_empty())?
        .clone();
    let running = info.and_then(|i| served(&i.outputs, &i.parameters));
    let rollout = running.as_ref().and_then(|r| r.image.as_ref()) != Some(&image);
    Some(ImagePlan {
        running,
        image,
        rollout,
    })
}

impl ImagePlan {
    /// One line for humans.
    pub fn line(&self) -> String {
        match (&self.running, self.rollout) {
            (Some(r), false) => format!("api: the service runs {} already", r.label()),
            (Some(r), true) => format!(
                "api: the service runs {}; deploy rolls {} out as a new revision",
                r.label(),
                self.image
            ),
            (None, _) => format!(
                "api: deploy runs {} as the service's first revision",
                self.image
            ),
        }
    }
}

/// Whether the stack update rolled the service out: a new revision, or a changed service.
pub fn rolled_out(e: &Ensured) -> bool {
    e.changes
        .iter()
        .any(|c| matches!(c.logical_id.as_str(), "TaskDefinition" | "Service"))
}

/// Asks `check` until it passes or `within` has passed; the last failure otherwise.
async fn healthy(check: &ApiCheck<'_>, within: Duration) -> std::result::Result<(), String> {
    let until = Instant::now() + within;
    loop {
        match check().await {
            Ok(()) => return Ok(()),
            Err(why) if Instant::now() + POLL >= until => return Err(why),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// After the stack: what the service runs now, checked through the API (`check`; None when
/// there is no public URL to ask, said as a warning) when this update rolled it out. A failed
/// check puts the image that ran before back (`before`: the stack before the update) and fails,
/// before the site changes.
pub async fn settle(
    cfn: &dyn StackService,
    s: &StackSettings,
    before: Option<&StackInfo>,
    e: &Ensured,
    check: Option<(&str, &ApiCheck<'_>)>,
    within: Duration,
    reporter: &dyn Reporter,
) -> Result<Option<ApiVersion>> {
    if !e.outputs.contains_key(SERVICE_OUTPUT) {
        return Ok(None);
    }
    let parameters = cfn
        .describe(&s.name)
        .await?
        .map(|i| i.parameters)
        .unwrap_or_default();
    let Some(now) = served(&e.outputs, &parameters) else {
        return Ok(None);
    };
    if !rolled_out(e) {
        return Ok(Some(now));
    }
    let Some((url, check)) = check else {
        reporter.warn(&format!(
            "api: {} runs {}, stable in ECS; not checked through the API (no public URL to ask: pass --api-url)",
            now.function,
            now.label()
        ));
        return Ok(Some(now));
    };
    reporter.stage(&format!(
        "api: {} runs {}, stable in ECS; checking GET {url}/health",
        now.function,
        now.label()
    ));
    let Err(why) = healthy(check, within).await else {
        reporter.info(&format!("api: {} answers GET /health", now.label()));
        return Ok(Some(now));
    };
    let image = now.image.clone().unwrap_or_default();
    let previous = before
        .and_then(|i| i.parameters.get(IMAGE_PARAMETER))
        .filter(|p| !p.is_empty() && **p != image)
        .filter(|_| before.is_some_and(|i| i.outputs.contains_key(SERVICE_OUTPUT)));
    let Some(previous) = previous else {
        return Err(Error::Refused {
            message: format!(
                "the tasks of {image} are stable, but the API does not answer through them: {why}; there is no earlier image to go back to, so they keep running; the site was not changed"
            ),
            hint: "read the tasks' logs (the stack's ServiceLogs group), fix the image, and deploy again".into(),
        });
    };
    reporter.warn(&format!(
        "api: {why}; putting the image that ran before back ({previous})"
    ));
    // The task's size and architecture as they were too: an image built for one
    // architecture runs on that one.
    let mut before_task: BTreeMap<String, String> = TASK_PARAMETERS
        .iter()
        .filter_map(|k| Some((k.to_string(), before?.parameters.get(*k)?.clone())))
        .collect();
    before_task.insert(IMAGE_PARAMETER.to_string(), previous.clone());
    if let Err(e) = put_back(cfn, s, &before_task, reporter).await {
        return Err(Error::Stack {
            message: format!(
                "the tasks of {image} are stable, but the API does not answer through them: {why}; putting {previous} back failed too: {e}; the service may still run {image}; the site was not changed"
            ),
            hint: "see the stack's events (`shipit plan` shows its status), then deploy the image that worked".into(),
        });
    }
    Err(Error::Refused {
        message: format!(
            "the tasks of {image} are stable, but the API does not answer through them: {why}; the service is back on {previous}; the site was not changed"
        ),
        hint: "read the tasks' logs (the stack's ServiceLogs group), fix the image, and deploy again".into(),
    })
}

/// Runs an image again: the stack updated with its own template and parameters, `changed` set
/// (`ContainerImage`, and the task's size when it is put back too): a new task definition
/// revision, rolled out and health-checked by ECS.
pub async fn put_back(
    cfn: &dyn StackService,
    s: &StackSettings,
    changed: &BTreeMap<String, String>,
    reporter: &dyn Reporter,
) -> Result<Ensured> {
    restack(cfn, s, Some, changed, reporter)
        .await
        .map(|e| e.expect("the body is kept"))
}

/// Updates the stack with its own template, edited by `edit` (None: nothing to change, and no
/// update), and its own parameters with `changed` set: what putting an image back and rolling
/// the tasks out without a parameter both are.
pub async fn restack(
    cfn: &dyn StackService,
    s: &StackSettings,
    edit: impl FnOnce(String) -> Option<String>,
    changed: &BTreeMap<String, String>,
    reporter: &dyn Reporter,
) -> Result<Option<Ensured>> {
    let info = cfn.describe(&s.name).await?.ok_or_else(|| Error::Stack {
        message: format!("stack {} does not exist", s.name),
        hint: "deploy it first".into(),
    })?;
    let Some(body) = edit(cfn.template(&s.name).await?) else {
        return Ok(None);
    };
    let template = Template::parse(body, &format!("stack {}'s template", s.name))?;
    let mut parameters = info.parameters;
    parameters.extend(changed.iter().map(|(k, v)| (k.clone(), v.clone())));
    let resolved = template.resolve_parameters(&parameters)?;
    provision::ensure_with(cfn, s, template, resolved, reporter)
        .await
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn what_the_service_runs_is_read_from_the_outputs_and_the_image_parameter() {
        let image = "1.dkr.ecr.us-east-1.amazonaws.com/api@sha256:ab";
        let outputs = map(&[
            ("ServiceName", "arn:aws:ecs:us-east-1:1:service/c/st-api"),
            (
                "TaskDefinitionArn",
                "arn:aws:ecs:us-east-1:1:task-definition/st-api:7",
            ),
        ]);
        type Map = BTreeMap<String, String>;
        let cases: Vec<(Map, Map, bool)> = vec![
            (outputs.clone(), map(&[("ContainerImage", image)]), true),
            (outputs.clone(), map(&[("ContainerImage", "")]), false),
            (map(&[("ApiFunctionName", "f")]), map(&[]), false),
        ];
        for (o, p, some) in cases {
            assert_eq!(served(&o, &p).is_some(), some, "{o:?} {p:?}");
        }
        let v = served(&outputs, &map(&[("ContainerImage", image)])).unwrap();
        let info = |params: &[(&str, &str)]| StackInfo {
            outputs: outputs.clone(),
            parameters: map(params),
            ..StackInfo::default()
        };
        let coded = |img: &str| StackSettings {
            parameters: map(&[("ContainerImage", img)]),
            ..crate::pipeline::test_support::stack_settings()
        };
        // (stack, image named) -> (rollout, running)
        let live = info(&[("ContainerImage", image)]);
        let other = "1.dkr.ecr.us-east-1.amazonaws.com/api@sha256:cd";
        for (stack, named, rollout, runs) in [
            (Some(&live), image, false, true),
            (Some(&live), other, true, true),
            (None, other, true, false),
        ] {
            let p = plan_image(stack, &coded(named)).unwrap();
            assert_eq!((p.rollout, p.running.is_some()), (rollout, runs), "{p:?}");
            assert!(!p.line().is_empty());
        }
        assert_eq!(plan_image(Some(&live), &coded("")), None);
        assert_eq!(
            (v.function.as_str(), v.version.as_str()),
            ("st-api", "st-api:7")
        );
        assert_eq!(v.label(), "st-api:7 (sha256:ab)");
    }
}
