//! The Lambda side of the boundary: publish a version and read the alias with the SDK; check a
//! version and move the alias by invoking the stack's pre-traffic gate (the deploy credential
//! may invoke nothing else). Returns plain data ([`AliasRoute`], [`Verdict`]); no SDK type
//! leaves this module.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::Client;

use crate as aws;
use crate::{At, Service};
use shipit_core::error::{Error, Result};
use shipit_core::lambda::{gate_answer, gate_check, gate_route, AliasRoute, Invoked, Verdict};
use shipit_core::settings::Connection;
use shipit_engine::ports::{Call, Functions};

/// How long the gate may take to answer: its timeout in stack/shipit.yaml (60 s) and a margin.
const GATE_ANSWER: std::time::Duration = std::time::Duration::from_secs(75);

#[derive(Clone)]
pub struct Lambda {
    client: Client,
    at: At,
    /// The stack's pre-traffic gate (its `PreTrafficGateName` output), when known.
    gate: Option<String>,
}

impl Lambda {
    pub fn new(sdk: &SdkConfig, conn: &Connection) -> Lambda {
        let mut builder = aws_sdk_lambda::config::Builder::from(sdk);
        if let Some(endpoint) = &conn.endpoints.lambda {
            builder = builder.endpoint_url(endpoint);
        }
        Lambda {
            client: Client::from_conf(builder.build()),
            at: At::new(Service::Lambda, conn.endpoints.lambda.as_deref(), sdk),
            gate: None,
        }
    }

    /// Checks and moves go through `gate`, the stack's pre-traffic gate function.
    pub fn with_gate(mut self, gate: Option<&str>) -> Lambda {
        self.gate = gate.map(str::to_string);
        self
    }

    /// The gate's name, or why there is none: a stack made by a shipit older than the gate.
    pub fn gate(&self, function: &str) -> Result<&str> {
        self.gate.as_deref().ok_or_else(|| Error::Refused {
            message: format!(
                "the stack of function {function} has no pre-traffic gate (no PreTrafficGateName output), and its live alias moves only through the gate"
            ),
            hint: "a stack made by an older shipit gets the gate when its stack is next updated (shipit deploy with the infrastructure role); a template of your own needs stack/shipit.yaml's PreTrafficGate and its output".into(),
        })
    }

    /// Asks the gate (`request`, a [`gate_check`] or [`gate_route`]) and reads its verdict.
    async fn ask(&self, function: &str, request: serde_json::Value) -> Result<Verdict> {
        let gate = self.gate(function)?;
        let invoked = self.invoke(gate, request.to_string().into_bytes()).await?;
        gate_failed(gate, gate_answer(&invoked)).map_err(|message| Error::Aws {
            message,
            hint: Some(format!(
                "read the gate's log (the stack's PreTrafficGateLogs log group); AccessDenied there means the permissions boundary is older than this shipit (stack/README.md, upgrading); see where the traffic goes with aws lambda get-alias --function-name {function} --name live"
            )),
        })
    }

    async fn publish(&self, function: &str, code_sha256: Option<&str>) -> Result<String> {
        let out = self
            .client
            .publish_version()
            .function_name(function)
            .set_code_sha256(code_sha256.map(str::to_string))
            .description("shipit deploy")
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("publish a version of {function}"), e))?;
        // Lambda refuses another code; an emulator that does not is caught here.
        if let (Some(want), Some(got)) = (code_sha256, out.code_sha256()) {
            if want != got {
                return Err(shipit_core::error::Error::Refused {
                    message: format!(
                        "version {} of {function} holds code {got}, not the package's {want}: another deploy changed the function",
                        out.version().unwrap_or("?")
                    ),
                    hint: "deploy again (one at a time per stack)".into(),
                });
            }
        }
        Ok(out.version().unwrap_or_default().to_string())
    }

    async fn alias(&self, function: &str, alias: &str) -> Result<AliasRoute> {
        let out = self
            .client
            .get_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("read alias {alias} of {function}"), e))?;
        let arn = out.alias_arn().unwrap_or_default().to_string();
        Ok(AliasRoute {
            name: alias.to_string(),
            function: arn
                .rsplit_once(':')
                .map(|(f, _)| f.to_string())
                .unwrap_or_default(),
            arn,
            version: out.function_version().unwrap_or_default().to_string(),
            weights: out
                .routing_config()
                .and_then(|r| r.additional_version_weights())
                .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
                .unwrap_or_default(),
        })
    }

    /// Invokes `function` (unqualified: the gate has no versions) synchronously. Lambda sends
    /// nothing until the function returns, so the first byte may take the gate's whole timeout.
    async fn invoke(&self, function: &str, payload: Vec<u8>) -> Result<Invoked> {
        // The connection's own limits otherwise (an override replaces the whole setting).
        let configured = self.client.config().timeout_config();
        let at_least =
            |t: Option<std::time::Duration>| t.map_or(GATE_ANSWER, |t| t.max(GATE_ANSWER));
        let timeouts = match configured {
            Some(t) => t.to_builder(),
            None => TimeoutConfig::builder(),
        }
        .read_timeout(at_least(configured.and_then(|t| t.read_timeout())))
        .operation_attempt_timeout(at_least(
            configured.and_then(|t| t.operation_attempt_timeout()),
        ));
        let out = self
            .client
            .invoke()
            .function_name(function)
            .payload(Blob::new(payload))
            .customize()
            .config_override(
                aws_sdk_lambda::config::Builder::default().timeout_config(timeouts.build()),
            )
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("invoke {function}"), e))?;
        Ok(Invoked {
            payload: out
                .payload()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default(),
            function_error: out.function_error().map(str::to_string),
        })
    }
}

impl Functions for Lambda {
    fn publish<'a>(&'a self, function: &'a str, code_sha256: Option<&'a str>) -> Call<'a, String> {
        Box::pin(Lambda::publish(self, function, code_sha256))
    }
    fn alias<'a>(&'a self, function: &'a str, alias: &'a str) -> Call<'a, AliasRoute> {
        Box::pin(Lambda::alias(self, function, alias))
    }
    fn check<'a>(&'a self, function: &'a str, version: &'a str) -> Call<'a, Verdict> {
        Box::pin(self.ask(function, gate_check(version)))
    }
    fn route<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
        weights: &'a BTreeMap<String, f64>,
        from: &'a AliasRoute,
    ) -> Call<'a, Verdict> {
        Box::pin(self.ask(function, gate_route(version, weights, from)))
    }
}

/// The gate's verdict, or (Err) a message naming the gate when it gave none.
pub fn gate_failed(
    gate: &str,
    answer: std::result::Result<Verdict, String>,
) -> std::result::Result<Verdict, String> {
    answer.map_err(|e| format!("the pre-traffic gate {gate} gave no verdict: {e}"))
}
