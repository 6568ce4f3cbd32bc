//! The commands, one module each; what several share is here.

pub(crate) mod deploy;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod preview;
pub(crate) mod releases;
pub(crate) mod stack;
pub(crate) mod verify;

use std::collections::BTreeMap;
use std::io::Write;

use shipit::cfn::{check_stack_name, Cfn};
use shipit::cli::Cli;
use shipit::config;
use shipit::error::{Error, Result};
use shipit::report::Reporter;
use shipit::s3::Store;

/// A deployed site: its bucket (from the stack's outputs, or given) and the stack's outputs.
pub(crate) struct Site {
    sdk: aws_config::SdkConfig,
    store: Store,
    bucket: String,
    outputs: Option<BTreeMap<String, String>>,
}

pub(crate) async fn open_site(
    cli: &Cli,
    args: &shipit::cli::SiteArgs,
    file: &config::FileConfig,
) -> Result<Site> {
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let sdk = shipit::aws::load(&conn).await?;
    let prefix = config::normalise_prefix(
        args.prefix
            .as_deref()
            .or(file.prefix.as_deref())
            .unwrap_or(""),
    );
    let (bucket, outputs) = match (
        args.stack.clone().or(file.stack.name.clone()),
        args.bucket.clone().or(file.bucket.clone()),
    ) {
        (Some(name), _) => {
            check_stack_name(&name)?;
            let info = Cfn::new(&sdk, &conn)
                .describe(&name)
                .await?
                .ok_or_else(|| Error::Stack {
                    message: format!("stack {name} does not exist"),
                    hint: "deploy it first: shipit deploy ./dist --stack NAME".into(),
                })?;
            let bucket =
                info.outputs
                    .get("SiteBucketName")
                    .cloned()
                    .ok_or_else(|| Error::Stack {
                        message: format!("stack {name} has no SiteBucketName output"),
                        hint: "is it a shipit stack?".into(),
                    })?;
            (bucket, Some(info.outputs))
        }
        (None, Some(bucket)) => (bucket, None),
        (None, None) => {
            return Err(Error::config_hint(
                "no stack or bucket given",
                "pass --stack NAME or --bucket NAME",
            ))
        }
    };
    Ok(Site {
        store: Store::new(&sdk, &conn, &bucket, &prefix),
        sdk,
        bucket,
        outputs,
    })
}

/// Releases the deploy lock; a failure to is a warning (it expires by itself).
pub(crate) async fn unlock(lock: shipit::lock::Lock, store: &Store, reporter: &Reporter) {
    if let Err(e) = lock.release(store).await {
        reporter.warn(&format!(
            "could not release the deploy lock ({e}); it expires by itself, or `shipit unlock`"
        ));
    }
}

pub(crate) fn region_of(sdk: &aws_config::SdkConfig) -> String {
    sdk.region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into())
}

/// Appends the run's job summary in GitHub Actions (a failure to write it is only a warning).
pub(crate) fn job_summary(reporter: &Reporter, s: &shipit::gha::JobSummary) {
    if !reporter.github() {
        return;
    }
    let path = std::env::var("GITHUB_STEP_SUMMARY").ok();
    if let Err(e) = shipit::gha::append_summary(path, &shipit::gha::markdown(s)) {
        reporter.warn(&format!("cannot write the job summary: {e}"));
    }
}

pub(crate) fn print_json(value: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}
