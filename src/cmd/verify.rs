//! `shipit verify`, and the verification gate of deploy and rollback.

use std::collections::BTreeMap;

use serde_json::json;

use shipit::cli::{Cli, SiteArgs, VerifyArgs};
use shipit::config::{self, Settings, VerifySettings};
use shipit::error::{Error, Result};
use shipit::report::Reporter;
use shipit::verify::run::{local_index_md5, Sources};
use shipit::verify::Report;

use super::{job_summary, open_site, print_json, region_of};

/// The failure a broken site is reported as.
pub(crate) fn broken(report: &Report, after_deploy: bool) -> Error {
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.outcome == shipit::verify::Outcome::Fail)
        .map(|c| c.name)
        .collect();
    Error::Broken {
        message: format!(
            "{} failed verification after {} attempts: {}{}",
            report.site,
            report.attempts,
            failing.join(", "),
            if after_deploy {
                "; nothing was pruned"
            } else {
                ""
            }
        ),
        hint: "each failure's cause is printed above; fix it and run `shipit verify` again".into(),
        report: Box::new(report.clone()),
    }
}

pub(crate) async fn run_checks(
    target: &shipit::verify::run::Target,
    checks: &VerifySettings,
    reporter: &Reporter,
) -> Result<Report> {
    reporter.stage(&format!("verifying {}", target.site));
    shipit::verify::run::verify(target, checks.timeout, reporter)
        .await
        .map_err(Error::Internal)
}

/// The last gate before pruning: is the site we just deployed working?
pub(crate) async fn verify_deploy(
    sdk: &aws_config::SdkConfig,
    settings: &Settings,
    checks: &VerifySettings,
    outputs: Option<&BTreeMap<String, String>>,
    index_md5: Option<String>,
    reporter: &Reporter,
) -> Result<Option<Report>> {
    let region = region_of(sdk);
    let target = shipit::verify::run::target(Sources {
        settings: checks,
        outputs,
        s3_endpoint: settings.connection.endpoints.s3.as_deref(),
        region: &region,
        bucket: Some(&settings.bucket),
        prefix: &settings.prefix,
        rules: settings.rules.clone(),
        index_md5,
    });
    let target = match target {
        Ok(t) => t,
        Err(why) => {
            reporter.warn(&format!("not verified: {why}"));
            return Ok(None);
        }
    };
    let report = run_checks(&target, checks, reporter).await?;
    for line in report.table().lines() {
        reporter.info(line);
    }
    if report.ok {
        Ok(Some(report))
    } else {
        Err(broken(&report, true))
    }
}

pub(crate) async fn verify_command(
    cli: &Cli,
    args: &VerifyArgs,
    file: &config::FileConfig,
    reporter: &Reporter,
) -> Result<()> {
    let checks = config::verify_settings(&args.check, &file.verify, false)?;
    let stack = args.stack.clone().or(file.stack.name.clone());
    let conn = config::connection(&cli.global, file, config::DEFAULT_MAX_ATTEMPTS, |k| {
        std::env::var(k).ok()
    });
    let rules = shipit::headers::HeaderRules::new(&file.headers)?;
    let prefix = config::normalise_prefix(file.prefix.as_deref().unwrap_or(""));
    let mut index_md5 = args.dir.as_deref().and_then(local_index_md5);
    if let Some(dir) = &args.dir {
        if index_md5.is_none() {
            return Err(Error::input(
                "no index.html to compare with in",
                dir,
                Some("--dir is the build that was deployed"),
            ));
        }
    }
    let (mut outputs, mut bucket, mut region) = (None, file.bucket.clone(), None);
    if let Some(name) = stack {
        let site = open_site(
            cli,
            &SiteArgs {
                stack: Some(name),
                bucket: None,
                prefix: None,
            },
            file,
        )
        .await?;
        if index_md5.is_none() {
            // What the bucket holds is what was deployed last.
            match site.store.head("index.html").await {
                Ok(h) => {
                    index_md5 = h.md5_metadata.map(|m| m.hex()).or(h
                        .etag
                        .filter(|e| e.len() == 32 && !e.contains('-')))
                }
                Err(e) => reporter.warn(&format!(
                    "cannot read the deployed index.html ({e}); the apex is checked without comparing content"
                )),
            }
        }
        region = Some(region_of(&site.sdk));
        bucket = Some(site.bucket);
        outputs = site.outputs;
    }
    let region = region
        .or(conn.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let target = shipit::verify::run::target(Sources {
        settings: &checks,
        outputs: outputs.as_ref(),
        s3_endpoint: conn.endpoints.s3.as_deref(),
        region: &region,
        bucket: bucket.as_deref(),
        prefix: &prefix,
        rules,
        index_md5,
    })
    .map_err(|why| Error::config_hint("nothing to verify", why))?;
    let report = run_checks(&target, &checks, reporter).await?;
    if !cli.global.json {
        print!("{}", report.table());
    }
    if !report.ok {
        return Err(broken(&report, false));
    }
    if cli.global.json {
        print_json(&json!({ "ok": true, "verify": report }));
    }
    reporter.close();
    job_summary(
        reporter,
        &shipit::gha::JobSummary {
            command: "verify",
            verify: Some(&report),
            ..Default::default()
        },
    );
    reporter.stage(&format!(
        "{} works: {} checks passed",
        report.site,
        report
            .checks
            .iter()
            .filter(|c| c.outcome == shipit::verify::Outcome::Pass)
            .count()
    ));
    Ok(())
}
