//! The CloudFront side of the boundary: [`Cdn`] implements the CDN interface (create an
//! invalidation, read its status) and reads a distribution and its invalidations as plain data
//! (the local edge serves from them). Which paths to invalidate is `shipit_core::invalidate`'s
//! decision; retrying and waiting are `pipeline::invalidate`'s.

use aws_config::SdkConfig;
use aws_sdk_cloudfront::error::ProvideErrorMetadata;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_cloudfront::Client;

use crate as aws;
use crate::{At, Service};
use shipit_core::error::{Error, Result};
use shipit_core::settings::Connection;
use shipit_engine::ports::{Call, Cdn as CdnPort, Created};

/// What the CloudFront API says of a distribution, as plain data (the local edge reads it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Distribution {
    pub arn: String,
    pub enabled: bool,
    pub default_root_object: String,
    /// The domain of its first origin (`<bucket>.s3.<region>.amazonaws.com` for the site's).
    pub origin_domain: Option<String>,
    pub error_pages: Vec<ErrorPage>,
}

/// One of a distribution's custom error responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    pub error_code: u16,
    pub response_code: Option<u16>,
    pub page: Option<String>,
    pub caching_min_ttl: u64,
}

pub struct Cdn {
    client: Client,
    at: At,
}

impl Cdn {
    pub fn new(sdk: &SdkConfig, conn: &Connection) -> Cdn {
        let mut builder = aws_sdk_cloudfront::config::Builder::from(sdk);
        if let Some(endpoint) = &conn.endpoints.cloudfront {
            builder = builder.endpoint_url(endpoint);
        }
        Cdn {
            client: Client::from_conf(builder.build()),
            at: At::new(
                Service::CloudFront,
                conn.endpoints.cloudfront.as_deref(),
                sdk,
            ),
        }
    }

    async fn create(
        &self,
        distribution: &str,
        paths: &[String],
        reference: &str,
    ) -> Result<Created> {
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(paths.len() as i32)
                    .set_items(Some(paths.to_vec()))
                    .build()
                    .map_err(|e| Error::Internal(format!("invalidation paths: {e}")))?,
            )
            .caller_reference(reference)
            .build()
            .map_err(|e| Error::Internal(format!("invalidation batch: {e}")))?;
        let res = self
            .client
            .create_invalidation()
            .distribution_id(distribution)
            .invalidation_batch(batch)
            .send()
            .await;
        match res {
            Ok(out) => Ok(Created::Id(
                out.invalidation()
                    .map(|i| i.id().to_string())
                    .unwrap_or_default(),
            )),
            Err(e) if e.code() == Some("TooManyInvalidationsInProgress") => Ok(Created::Busy),
            Err(e) => Err(aws::error(
                &self.at,
                &format!("invalidate distribution {distribution}"),
                e,
            )),
        }
    }

    /// What the CloudFront API says of a distribution.
    pub async fn distribution(&self, id: &str) -> Result<Distribution> {
        let out = self
            .client
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("read distribution {id}"), e))?;
        let d = out
            .distribution()
            .ok_or_else(|| Error::aws(format!("distribution {id}: empty answer")))?;
        let c = d.distribution_config();
        let error_pages = c
            .and_then(|c| c.custom_error_responses())
            .map(|e| e.items())
            .unwrap_or_default()
            .iter()
            .map(|e| ErrorPage {
                error_code: e.error_code() as u16,
                response_code: e.response_code().and_then(|c| c.parse().ok()),
                page: e.response_page_path().map(str::to_string),
                caching_min_ttl: e.error_caching_min_ttl().unwrap_or(10) as u64,
            })
            .collect();
        Ok(Distribution {
            arn: d.arn().to_string(),
            enabled: c.is_some_and(|c| c.enabled()),
            default_root_object: c
                .and_then(|c| c.default_root_object())
                .unwrap_or_default()
                .to_string(),
            origin_domain: c
                .and_then(|c| c.origins())
                .and_then(|o| o.items().first())
                .map(|o| o.domain_name().to_string()),
            error_pages,
        })
    }

    /// The ids of the distribution's invalidations, newest first.
    pub async fn invalidation_ids(&self, distribution: &str) -> Result<Vec<String>> {
        let out = self
            .client
            .list_invalidations()
            .distribution_id(distribution)
            .send()
            .await
            .map_err(|e| {
                aws::error(
                    &self.at,
                    &format!("list invalidations of {distribution}"),
                    e,
                )
            })?;
        Ok(out
            .invalidation_list()
            .map(|l| l.items().iter().map(|i| i.id().to_string()).collect())
            .unwrap_or_default())
    }

    /// The paths of one invalidation.
    pub async fn invalidation_paths(&self, distribution: &str, id: &str) -> Result<Vec<String>> {
        let inv = self.invalidation(distribution, id).await?;
        Ok(inv
            .invalidation_batch()
            .and_then(|b| b.paths())
            .map(|p| p.items().to_vec())
            .unwrap_or_default())
    }

    async fn invalidation(
        &self,
        distribution: &str,
        id: &str,
    ) -> Result<aws_sdk_cloudfront::types::Invalidation> {
        self.client
            .get_invalidation()
            .distribution_id(distribution)
            .id(id)
            .send()
            .await
            .map_err(|e| aws::error(&self.at, &format!("read invalidation {id}"), e))?
            .invalidation
            .ok_or_else(|| Error::aws(format!("invalidation {id}: empty answer")))
    }
}

impl CdnPort for Cdn {
    fn create_invalidation<'a>(
        &'a self,
        distribution: &'a str,
        paths: &'a [String],
        reference: &'a str,
    ) -> Call<'a, Created> {
        Box::pin(self.create(distribution, paths, reference))
    }
    fn invalidation_status<'a>(&'a self, distribution: &'a str, id: &'a str) -> Call<'a, String> {
        Box::pin(async move {
            Ok(self
                .invalidation(distribution, id)
                .await?
                .status()
                .to_string())
        })
    }
}
