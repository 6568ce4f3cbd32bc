//! The Lambda side of the boundary: publish a version, read and move an alias, invoke a version.
//! Returns plain data ([`AliasRoute`], [`Invoked`]); no SDK type leaves this module.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_sdk_lambda::Client;

use crate::aws::{self, At, Service};
use crate::core::lambda::{AliasRoute, Invoked};
use crate::core::settings::Connection;
use crate::error::Result;
use crate::ports::{Call, Functions};

#[derive(Clone)]
pub struct Lambda {
    client: Client,
    at: At,
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
        }
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
                return Err(crate::error::Error::Refused {
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

    async fn route(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        weights: &BTreeMap<String, f64>,
    ) -> Result<()> {
        let routing = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(
                weights.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            ))
            .build();
        self.client
            .update_alias()
            .function_name(function)
            .name(alias)
            .function_version(version)
            .routing_config(routing)
            .send()
            .await
            .map_err(|e| {
                aws::error(
                    &self.at,
                    &format!("point alias {alias} of {function} at version {version}"),
                    e,
                )
            })?;
        Ok(())
    }

    async fn invoke(&self, function: &str, version: &str, payload: Vec<u8>) -> Result<Invoked> {
        let out = self
            .client
            .invoke()
            .function_name(function)
            .qualifier(version)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("invoke {function}:{version}"), e))?;
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
    fn route<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        version: &'a str,
        weights: &'a BTreeMap<String, f64>,
    ) -> Call<'a, ()> {
        Box::pin(Lambda::route(self, function, alias, version, weights))
    }
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
        payload: Vec<u8>,
    ) -> Call<'a, Invoked> {
        Box::pin(Lambda::invoke(self, function, version, payload))
    }
}
