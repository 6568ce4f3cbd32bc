//! The CloudFront side of the boundary: invalidations, and reading a distribution for the
//! local edge. Which paths to invalidate is `invalidate`'s decision.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_cloudfront::error::ProvideErrorMetadata;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_cloudfront::Client;

use crate::aws;
use crate::config::Connection;
use crate::edge::source::{bucket_of_origin, ApiView};
use crate::edge::ErrorResponse;
use crate::error::{Error, Result};
use crate::invalidate::is_completed;
use crate::report::Reporter;

pub struct Cdn {
    client: Client,
}

/// How often, and how many times, a throttled invalidation is retried.
const BUSY_RETRIES: u32 = 6;

impl Cdn {
    pub fn new(sdk: &SdkConfig, conn: &Connection) -> Cdn {
        let mut builder = aws_sdk_cloudfront::config::Builder::from(sdk);
        if let Some(endpoint) = &conn.endpoints.cloudfront {
            builder = builder.endpoint_url(endpoint);
        }
        Cdn {
            client: Client::from_conf(builder.build()),
        }
    }

    /// Creates an invalidation; waits and retries while CloudFront has too many in flight.
    /// Returns its id.
    pub async fn invalidate(
        &self,
        distribution: &str,
        paths: &[String],
        reporter: &Reporter,
    ) -> Result<String> {
        let reference = format!("shipit-{}", crate::clock::epoch_nanos());
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
        let mut delay = Duration::from_secs(5);
        for attempt in 0..=BUSY_RETRIES {
            let res = self
                .client
                .create_invalidation()
                .distribution_id(distribution)
                .invalidation_batch(batch.clone())
                .send()
                .await;
            match res {
                Ok(out) => {
                    return Ok(out
                        .invalidation()
                        .map(|i| i.id().to_string())
                        .unwrap_or_default());
                }
                Err(e)
                    if e.code() == Some("TooManyInvalidationsInProgress")
                        && attempt < BUSY_RETRIES =>
                {
                    reporter.info(&format!(
                        "CloudFront has too many invalidations in flight; retrying in {}s",
                        delay.as_secs()
                    ));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
                Err(e) => {
                    return Err(aws::error(
                        &format!("invalidate distribution {distribution}"),
                        e,
                    ))
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Polls until the invalidation completes (status compared without regard to case: the
    /// SDK's waiter expects "Completed" exactly), or the deadline passes.
    pub async fn wait(
        &self,
        distribution: &str,
        id: &str,
        timeout: Duration,
        reporter: &Reporter,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        loop {
            let status = self
                .invalidation(distribution, id)
                .await?
                .status()
                .to_string();
            if is_completed(&status) {
                return Ok(());
            }
            if status != last {
                reporter.info(&format!("invalidation {id}: {status}"));
                last = status.clone();
            }
            if Instant::now() > deadline {
                return Err(Error::Aws {
                    message: format!("invalidation {id} was still {status} after {}s", timeout.as_secs()),
                    hint: Some("CloudFront usually completes within minutes; the site may serve stale content until then. Nothing was pruned.".into()),
                });
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }

    /// What the CloudFront API says of a distribution.
    pub async fn distribution(&self, id: &str) -> Result<ApiView> {
        let out = self
            .client
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|e| aws::error(&format!("read distribution {id}"), e))?;
        let d = out
            .distribution()
            .ok_or_else(|| Error::aws(format!("distribution {id}: empty answer")))?;
        let c = d.distribution_config();
        let errors = c
            .and_then(|c| c.custom_error_responses())
            .map(|e| e.items())
            .unwrap_or_default()
            .iter()
            .map(|e| ErrorResponse {
                error_code: e.error_code() as u16,
                response_code: e.response_code().and_then(|c| c.parse().ok()),
                page: e.response_page_path().map(str::to_string),
                caching_min_ttl: e.error_caching_min_ttl().unwrap_or(10) as u64,
            })
            .collect();
        Ok(ApiView {
            arn: d.arn().to_string(),
            domain_name: d.domain_name().to_string(),
            enabled: c.is_some_and(|c| c.enabled()),
            default_root_object: c
                .and_then(|c| c.default_root_object())
                .unwrap_or_default()
                .to_string(),
            bucket: c
                .and_then(|c| c.origins())
                .and_then(|o| o.items().first())
                .and_then(|o| bucket_of_origin(o.domain_name())),
            errors,
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
            .map_err(|e| aws::error(&format!("list invalidations of {distribution}"), e))?;
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
            .map_err(|e| aws::error(&format!("read invalidation {id}"), e))?
            .invalidation
            .ok_or_else(|| Error::aws(format!("invalidation {id}: empty answer")))
    }
}
