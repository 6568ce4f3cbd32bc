//! Lambda for `shipit deploy` on the local cloud: moto publishes versions and keeps aliases
//! (through the SDK, as on AWS), but runs no code without Docker, so a version is invoked by
//! shipit's own local Lambda runtime, the one `shipit preview` serves the API with: the same
//! code, configuration and role credentials the local cloud hands out for that version.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use crate::aws::lambda::Lambda;
use crate::core::lambda::{AliasRoute, Described, Invoked, Outcome, Runtimes};
use crate::edge::apigw::read_function;
use crate::edge::lambda::LocalFunction;
use crate::error::{Error, Result};
use crate::http::Client as HttpClient;
use crate::ports::{Call, Functions};

pub struct LocalFunctions {
    lambda: Lambda,
    http: HttpClient,
    endpoint: String,
    region: String,
    runtimes: Runtimes,
    aws: BTreeMap<String, String>,
}

impl LocalFunctions {
    pub fn new(lambda: Lambda, endpoint: &str, region: &str, runtimes: Runtimes) -> Result<Self> {
        Ok(LocalFunctions {
            lambda,
            http: HttpClient::new(Duration::from_secs(10)).map_err(Error::Internal)?,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            aws: function_env(region, endpoint),
            runtimes,
        })
    }

    async fn invoke(&self, function: &str, version: &str, payload: Vec<u8>) -> Result<Invoked> {
        let name = format!("{function}:{version}");
        let failed = |e: String| Error::Aws {
            message: format!("invoke {name} with the local Lambda runtime: {e}"),
            hint: Some(
                "check the local cloud (scripts/local-cloud) and SHIPIT_LAMBDA_PYTHON".into(),
            ),
        };
        let spec = match read_function(&self.http, &self.endpoint, &self.region, &name)
            .await
            .map_err(failed)?
        {
            Described::Function(spec) => spec,
            Described::Alias(_) => return Err(failed("an alias, not a version".into())),
        };
        let f = LocalFunction::new(self.runtimes.clone(), &spec.arn, self.aws.clone());
        let outcome = f.invoke(&spec, Bytes::from(payload)).await;
        f.shutdown().await;
        let unhandled = |message: String| Invoked {
            payload: serde_json::json!({"errorMessage": message})
                .to_string()
                .into_bytes(),
            function_error: Some("Unhandled".into()),
        };
        Ok(match outcome.map_err(failed)? {
            Outcome::Returned(payload) => Invoked {
                payload,
                function_error: None,
            },
            Outcome::Raised(payload) => Invoked {
                payload,
                function_error: Some("Unhandled".into()),
            },
            Outcome::InitFailed(m) | Outcome::Crashed(m) => unhandled(m),
            Outcome::TimedOut => {
                unhandled(format!("Task timed out after {} seconds", spec.timeout))
            }
        })
    }
}

/// What a function's SDK needs to reach the local cloud: its region and endpoint, and
/// credentials for whatever the local cloud does not hand the function itself.
pub fn function_env(region: &str, endpoint: &str) -> BTreeMap<String, String> {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| "test".to_string());
    [
        ("AWS_REGION", region.to_string()),
        ("AWS_DEFAULT_REGION", region.to_string()),
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", env("AWS_ACCESS_KEY_ID")),
        ("AWS_SECRET_ACCESS_KEY", env("AWS_SECRET_ACCESS_KEY")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl Functions for LocalFunctions {
    fn publish<'a>(&'a self, function: &'a str, code_sha256: Option<&'a str>) -> Call<'a, String> {
        self.lambda.publish(function, code_sha256)
    }
    fn alias<'a>(&'a self, function: &'a str, alias: &'a str) -> Call<'a, AliasRoute> {
        self.lambda.alias(function, alias)
    }
    fn route<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        version: &'a str,
        weights: &'a BTreeMap<String, f64>,
    ) -> Call<'a, ()> {
        self.lambda.route(function, alias, version, weights)
    }
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
        payload: Vec<u8>,
    ) -> Call<'a, Invoked> {
        Box::pin(LocalFunctions::invoke(self, function, version, payload))
    }
}
