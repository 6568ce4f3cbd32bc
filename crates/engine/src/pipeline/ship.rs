//! A deploy's whole sequence, after the build is scanned: build the API's package, ask the
//! account (the preflight), ensure the stack with the code, take the deploy lock, plan, put the
//! API's new version live through the stack's pre-traffic gate, write the site, then finish
//! (invalidate, verify, record the release, prune) and release the lock. `shipit deploy` only
//! resolves settings, builds the clients, calls [`ship`] and prints.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::pipeline::api::{self, Live, Shipped};
use crate::pipeline::deploy::{self, Started};
use crate::pipeline::finish::{finish, Finish};
use crate::pipeline::lock;
use crate::pipeline::provision::Ensured;
use crate::pipeline::{package, preflight, service};
use crate::ports::{
    Account, Call, Cdn, Functions, ObjectStore, Parameters, Registry, Reporter, StackService,
};
use shipit_core::checks::Report;
use shipit_core::error::{Error, Result};
use shipit_core::package::Package;
use shipit_core::release::ApiVersion;
use shipit_core::settings::{Settings, SiteTarget, VerifySettings};
use shipit_core::summary::Summary;

/// What a deploy reaches the outside world through.
pub struct Ports<'a> {
    pub stacks: &'a dyn StackService,
    pub account: &'a dyn Account,
    pub cdn: &'a dyn Cdn,
    /// Opens a bucket, under a prefix.
    pub store: &'a (dyn Fn(&str, &str) -> Arc<dyn ObjectStore> + Sync),
    /// Lambda, with the stack's pre-traffic gate.
    pub lambda: &'a dyn Lambdas,
    /// The region, for the bucket's direct URL and the runtime configuration.
    pub region: String,
    /// ECR on shipit's local cloud (None on AWS): where `[api] local_command` is published.
    pub registry: Option<&'a dyn Registry>,
    /// SSM: the stack's parameters, which a container backend's tasks get as secrets.
    pub parameters: &'a dyn Parameters,
}

/// Opens Lambda for a stack whose pre-traffic gate is `gate` (its `PreTrafficGateName` output).
pub trait Lambdas: Send + Sync {
    fn with_gate<'a>(&'a self, gate: Option<&'a str>) -> Call<'a, Box<dyn Functions>>;
}

/// What a deploy did.
#[derive(Debug, Serialize)]
pub struct Shipment {
    pub stack: Option<Ensured>,
    /// The API's package, when this deploy shipped one.
    pub api: Option<Shipped>,
    /// The API's version made live, when the function changed.
    pub api_live: Option<Live>,
    /// What the API runs now, as the release records it: the function's live version, or the
    /// service's revision and image.
    pub api_running: Option<ApiVersion>,
    pub summary: Summary,
    pub verify: Option<Report>,
}

/// The bucket a stack's site goes to: its `SiteBucketName` output.
pub fn site_bucket(stack: &str, outputs: &BTreeMap<String, String>) -> Result<String> {
    outputs
        .get("SiteBucketName")
        .cloned()
        .ok_or_else(|| Error::Stack {
            message: format!("stack {stack} has no SiteBucketName output"),
            hint: "is it a shipit stack? A custom --template must output SiteBucketName (the bucket to sync to)".into(),
        })
}

/// Deploys the scanned build (`scanned`, from [`deploy::start`]) as `settings` say.
pub async fn ship(
    ports: &Ports<'_>,
    mut settings: Settings,
    checks: &VerifySettings,
    mut scanned: Started,
    reporter: &dyn Reporter,
) -> Result<Shipment> {
    // The package is built before anything changes: a bad one stops the deploy here.
    let package = match &settings.api {
        Some(api) => Some(package::build(api, reporter).await?),
        None => None,
    };
    // The stack as it was, for the image to put back when a new one does not answer.
    let before = match &mut settings.target {
        SiteTarget::Bucket(_) => None,
        SiteTarget::Stack(stack) => {
            crate::pipeline::local_image::use_local(
                ports.registry,
                stack,
                settings.local_service.as_ref(),
                reporter,
            )
            .await?;
            let info = ports.stacks.describe(&stack.name).await?;
            crate::pipeline::parameters::attach(ports.parameters, stack, info.as_ref(), reporter)
                .await?;
            info
        }
    };
    let code = settings.api.as_ref().zip(package.as_ref());
    let (bucket, ensured, shipped) = match &settings.target {
        SiteTarget::Bucket(b) => (b.clone(), None, None),
        SiteTarget::Stack(stack) => {
            // Before any write: what AWS would refuse in this change, all at once.
            let info = before.clone();
            let coded = api::settings_for(stack, info.as_ref(), code)?;
            let checked =
                preflight::run(ports.stacks, ports.account, &coded, info.as_ref(), reporter)
                    .await?;
            preflight::report(&checked, reporter);
            checked.check(&stack.name)?;
            let store_for = |b: &str| (ports.store)(b, "");
            let (e, shipped) = api::ensure(ports.stacks, &store_for, stack, code, reporter).await?;
            (site_bucket(&e.stack, &e.outputs)?, Some(e), shipped)
        }
    };
    if settings.cdn.distribution_id.is_none() {
        settings.cdn.distribution_id = ensured
            .as_ref()
            .and_then(|e| e.outputs.get("DistributionId").cloned());
    }
    let store = (ports.store)(&bucket, &settings.prefix);
    let lock = lock::acquire(
        store.clone(),
        "deploy",
        settings.lock.ttl,
        settings.lock.wait,
        reporter,
    )
    .await?;
    if lock.waited {
        scanned.relist();
    }
    // The index.html that was hashed is the one uploaded: the apex must serve its bytes.
    let index_md5 = scanned
        .local
        .iter()
        .find(|f| f.key == "index.html")
        .map(|f| f.md5.hex());
    let result = async {
        // Planned first (it writes nothing and may refuse); then the API's new version takes
        // traffic before the site that may call it: published, checked, then the live alias
        // moved (a failure stops here, with the old version serving and the site unchanged).
        let mut prepared = deploy::prepare(&settings, store.clone(), scanned, reporter).await?;
        if let Some(e) = &ensured {
            prepared.set_runtime_config(&e.outputs, &ports.region, &settings.rules)?;
        }
        let live = match ensured.as_ref() {
            Some(e) => {
                go_live(
                    ports.lambda,
                    &settings,
                    checks,
                    package.as_ref(),
                    e,
                    reporter,
                )
                .await?
            }
            None => None,
        };
        let served = match (ensured.as_ref(), settings.target.stack()) {
            (Some(e), Some(stack)) => {
                let (url, check) = api_check(&settings, checks, e)?;
                let within = checks.timeout;
                let check = url.as_deref().map(|u| (u, &*check));
                service::settle(
                    ports.stacks,
                    stack,
                    before.as_ref(),
                    e,
                    check,
                    within,
                    reporter,
                )
                .await?
            }
            _ => None,
        };
        let api = live
            .as_ref()
            .map(|l| ApiVersion {
                function: l.function.clone(),
                version: l.version.clone(),
                package: package.as_ref().map(|p| p.key.clone()),
                image: None,
                parameters: None,
            })
            .or(served);
        prepared.set_api(api.clone(), &settings.rules)?;
        let written = deploy::write_all(prepared, &settings, Some(&lock), reporter).await?;
        let f = Finish {
            cdn: Some(ports.cdn),
            checks,
            outputs: ensured.as_ref().map(|e| &e.outputs),
            index_md5,
            region: ports.region.clone(),
            lock: Some(&lock),
        };
        finish(&settings, f, written, reporter)
            .await
            .map(|(summary, verified)| (summary, verified, live, api))
    }
    .await;
    lock::release_or_warn(lock, reporter).await;
    let (summary, verify, api_live, api_running) = result?;
    Ok(Shipment {
        stack: ensured,
        api: shipped,
        api_live,
        api_running,
        summary,
        verify,
    })
}

/// Moves the API's `live` alias to the function's new version when this deploy shipped code
/// (`[api]`) or the stack changed the function (its configuration, or the built-in code): a
/// version that is never published would never take traffic. A canary is checked through the
/// API's public URL (`--api-url`, else the stack's `ApiUrl`).
async fn go_live(
    lambdas: &dyn Lambdas,
    settings: &Settings,
    checks: &VerifySettings,
    package: Option<&Package>,
    ensured: &Ensured,
    reporter: &dyn Reporter,
) -> Result<Option<Live>> {
    let Some(function) = ensured.outputs.get(api::FUNCTION_OUTPUT) else {
        return Ok(None);
    };
    let touched = ensured
        .changes
        .iter()
        .any(|c| c.logical_id == "ApiFunction");
    if package.is_none() && !touched {
        return Ok(None);
    }
    let functions = lambdas
        .with_gate(ensured.outputs.get(api::GATE_OUTPUT).map(String::as_str))
        .await?;
    let (_, check) = api_check(settings, checks, ensured)?;
    let canary = settings
        .api
        .as_ref()
        .and_then(|a| a.canary)
        .map(|(percent, window)| api::Canary { percent, window });
    api::go_live(
        functions.as_ref(),
        function,
        package,
        canary.as_ref(),
        &*check,
        reporter,
    )
    .await
    .map(Some)
}

/// `GET /health` through the API's public URL: `--api-url`, else the stack's `ApiUrl` (None on
/// the local cloud, where that URL is API Gateway's and nothing answers it), and the check.
fn api_check(
    settings: &Settings,
    checks: &VerifySettings,
    ensured: &Ensured,
) -> Result<(Option<String>, Box<api::ApiCheck<'static>>)> {
    let local = settings.connection.endpoints.s3.is_some();
    let url = checks
        .api_url
        .clone()
        .or_else(|| {
            (!local)
                .then(|| ensured.outputs.get("ApiUrl").cloned())
                .flatten()
        })
        .map(|u| u.trim_end_matches('/').to_string());
    let http =
        crate::http::Client::new(std::time::Duration::from_secs(10)).map_err(Error::Internal)?;
    let health = format!("{}/health", url.clone().unwrap_or_default());
    let check = move || -> futures::future::BoxFuture<'static, std::result::Result<(), String>> {
        let (http, health) = (http.clone(), health.clone());
        Box::pin(async move {
            match http.get(&health, &[]).await {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("GET {health} answered {}", r.status)),
                Err(e) => Err(format!("GET {health}: {e:?}")),
            }
        })
    };
    Ok((url.filter(|_| checks.enabled), Box::new(check)))
}
