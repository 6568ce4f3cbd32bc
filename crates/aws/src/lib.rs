//! The AWS boundary: the only crate whose code names the SDK (the binary holds the loaded
//! [`SdkConfig`] through the re-export below). This module loads configuration and credentials
//! and turns SDK errors into shipit errors worded for the service that failed; `s3`, `cdn`,
//! `cfn`, `lambda` and `account` implement the engine's interfaces, and `s3` and `cdn` also read,
//! as plain data, what the local edge serves from (an object as CloudFront's OAC gets it, a
//! distribution as the CloudFront API describes it).

/// The loaded configuration (credentials, region, retries, timeouts) every adapter is built
/// from: re-exported so the binary's composition root holds it without naming the SDK.
pub use aws_config::SdkConfig;

pub mod account;
pub mod cdn;
pub mod cfn;
pub mod ecr;
pub mod lambda;
pub mod s3;
pub mod signed;
pub mod ssm;

use std::path::PathBuf;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::ProvideCredentials;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use shipit_core::error::{Error, Result};
use shipit_core::settings::Connection;

/// Region used with a custom endpoint when none is configured (emulators ignore it).
const LOCAL_REGION: &str = "us-east-1";

const CREDENTIALS_HINT: &str =
    "configure credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
`aws configure`, `aws sso login --profile NAME` with --profile NAME, or in GitHub Actions \
aws-actions/configure-aws-credentials with OIDC (permissions: id-token: write)";

/// Loads the SDK configuration and checks, within seconds, that credentials resolve.
pub async fn load(conn: &Connection) -> Result<SdkConfig> {
    if let Some(profile) = &conn.profile {
        check_profile_exists(profile)?;
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(conn.max_attempts)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(5)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(conn.timeouts.connect)
                .read_timeout(conn.timeouts.read)
                .operation_attempt_timeout(conn.timeouts.attempt)
                .operation_timeout(conn.timeouts.operation)
                .build(),
        );
    if let Some(profile) = &conn.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &conn.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        if !conn.has_custom_endpoint() {
            return Err(Error::config_hint(
                "no AWS region configured",
                "pass --region (e.g. --region eu-west-1), set AWS_REGION, or set `region` in shipit.toml or your profile",
            ));
        }
        config = config
            .into_builder()
            .region(Region::new(LOCAL_REGION))
            .build();
    }
    check_credentials(&config).await?;
    Ok(config)
}

async fn check_credentials(config: &SdkConfig) -> Result<()> {
    let Some(provider) = config.credentials_provider() else {
        return Err(no_credentials("no credentials provider is configured"));
    };
    match tokio::time::timeout(Duration::from_secs(20), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(no_credentials(&chain(&e))),
        Err(_) => Err(no_credentials("resolving credentials took more than 20 s")),
    }
}

fn no_credentials(detail: &str) -> Error {
    Error::Auth {
        message: format!("no usable AWS credentials ({detail})"),
        hint: CREDENTIALS_HINT.to_string(),
    }
}

/// An error and its sources as one line of their messages (no Debug dumps).
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) && !text.contains('{') {
            parts.push(text);
        }
        next = e.source();
    }
    let line = parts.join(": ");
    match line.char_indices().nth(300) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line,
    }
}

/// A profile that exists in neither file is a typo; the SDK alone would not say so.
fn check_profile_exists(profile: &str) -> Result<()> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let config = std::env::var_os("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/config"));
    let creds = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".aws/credentials"));
    let read = |p: &PathBuf| std::fs::read_to_string(p).unwrap_or_default();
    if profile_defined(&read(&config), profile, true)
        || profile_defined(&read(&creds), profile, false)
    {
        return Ok(());
    }
    Err(Error::Auth {
        message: format!(
            "AWS profile {profile:?} is not defined in {} or {}",
            config.display(),
            creds.display()
        ),
        hint: "check the name with `aws configure list-profiles`".to_string(),
    })
}

/// Whether an INI text defines the profile: `[profile NAME]` in the config file (`[default]`
/// for the default), `[NAME]` in the credentials file.
pub fn profile_defined(text: &str, profile: &str, config_file: bool) -> bool {
    text.lines().any(|line| {
        let line = line.trim();
        let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
            return false;
        };
        let section = section.trim();
        if config_file && profile != "default" {
            section
                .strip_prefix("profile")
                .is_some_and(|rest| rest.starts_with(char::is_whitespace) && rest.trim() == profile)
        } else {
            section == profile
                || (config_file && section.strip_prefix("profile ").map(str::trim) == Some(profile))
        }
    })
}

/// The service a request went to, for errors that say where the problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    CloudFormation,
    CloudFront,
    Lambda,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::S3 => "S3",
            Service::CloudFormation => "CloudFormation",
            Service::CloudFront => "CloudFront",
            Service::Lambda => "Lambda",
        }
    }

    /// What the credentials' policy must allow, in a hint.
    fn scope(self) -> &'static str {
        match self {
            Service::S3 => "this action on this bucket",
            Service::CloudFormation => "this CloudFormation action on this stack",
            Service::CloudFront => "this CloudFront action on this distribution",
            Service::Lambda => "this Lambda action on the stack's function or its pre-traffic gate (stack/iam/content-role.json, as shipped with this shipit)",
        }
    }
}

/// Where a client's requests go: the service and its endpoint, for errors that name both.
#[derive(Debug, Clone)]
pub struct At {
    service: Service,
    endpoint: String,
}

impl At {
    /// The custom endpoint (an emulator, a VPC endpoint), else AWS's own in the SDK's region.
    pub fn new(service: Service, custom: Option<&str>, sdk: &SdkConfig) -> At {
        let endpoint = match custom {
            Some(url) => url.to_string(),
            None => format!(
                "{} in {}",
                service.name(),
                sdk.region().map(|r| r.as_ref()).unwrap_or("us-east-1")
            ),
        };
        At { service, endpoint }
    }
}

/// Turns an SDK error into a shipit error naming the service, its endpoint and what failed
/// (`what`: "upload assets/app.js").
pub fn error<E, R>(at: &At, what: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus,
{
    let service = at.service;
    let status = err.raw_response().and_then(|r| r.http_status());
    let code = err.code().map(str::to_owned);
    let detail = match (&code, err.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    match (code.as_deref(), status) {
        (
            Some(
                "AccessDenied" | "AccessDeniedException" | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch" | "ExpiredToken"
                | "InvalidToken" | "TokenRefreshRequired" | "AllAccessDisabled",
            ),
            _,
        )
        | (None, Some(401 | 403)) => Error::Auth {
            message: format!("{what}: access denied ({detail})"),
            hint: format!("check that the credentials are current and that their policy allows {}", service.scope()),
        },
        (Some("NoSuchBucket"), _) if service == Service::S3 => Error::Aws {
            message: format!("{what}: the bucket does not exist ({detail})"),
            hint: Some("check --bucket and --region; create the bucket first (or let the stack create it)".into()),
        },
        _ if matches!(&err, SdkError::TimeoutError(_))
            || matches!(&err, SdkError::DispatchFailure(d) if d.is_timeout()) =>
        {
            Error::Aws {
            message: format!("{what}: no answer from {} in time ({detail})", at.endpoint),
            hint: Some("the endpoint accepted the request but did not answer; retrying is safe (no prune runs after an error). The limits are [aws] read_timeout_seconds, attempt_timeout_seconds and operation_timeout_seconds in shipit.toml".into()),
            }
        }
        _ if matches!(err, SdkError::DispatchFailure(_)) => Error::Aws {
            message: format!("{what}: cannot reach {} ({detail})", at.endpoint),
            hint: Some("check the network, --endpoint-url and any proxy settings; retrying is safe: nothing was deleted".into()),
        },
        _ => Error::Aws {
            message: format!("{what}: {detail}"),
            hint: Some("retrying is safe: shipit deletes nothing after an error".into()),
        },
    }
}

/// The HTTP status of a raw response, for errors without a code (HEAD has no body).
pub trait HasStatus {
    fn http_status(&self) -> Option<u16>;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn http_status(&self) -> Option<u16> {
        Some(self.status().as_u16())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_in_ini_files() {
        let config = "[default]\nregion=x\n[profile dev]\nsso_start_url=y\n[profile  spaced ]\n";
        let creds = "[ci]\naws_access_key_id=a\n";
        let table = [
            (config, "default", true, true),
            (config, "dev", true, true),
            (config, "spaced", true, true),
            (config, "prod", true, false),
            (config, "profile", true, false),
            (creds, "ci", false, true),
            (creds, "dev", false, false),
        ];
        for (text, name, is_config, want) in table {
            assert_eq!(profile_defined(text, name, is_config), want, "{name}");
        }
    }
}
